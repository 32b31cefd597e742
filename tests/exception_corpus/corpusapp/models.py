import uuid

from django.db import models


class Customer(models.Model):
    STATUS = [("active", "Active"), ("closed", "Closed")]
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=20, choices=STATUS, default="active")
    birthday = models.DateField(null=True, blank=True)
    balance = models.DecimalField(max_digits=8, decimal_places=2, default=0)


class Profile(models.Model):
    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="profile")
    bio = models.TextField(blank=True)


class Document(models.Model):
    owner = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="documents")
    title = models.CharField(max_length=20)
    slug = models.SlugField(unique=True)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True)


class Invoice(models.Model):
    """Its migration was never run: the table does not exist."""
    customer_email = models.EmailField()
    total = models.DecimalField(max_digits=8, decimal_places=2)
