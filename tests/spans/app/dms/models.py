"""Companies, their members and API tokens, documents and payment methods."""
from django.db import models


class Company(models.Model):
    name = models.CharField(max_length=200)


class Member(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="members")
    username = models.CharField(max_length=150, unique=True)
    email = models.EmailField()
    full_name = models.CharField(max_length=200)


class ApiToken(models.Model):
    key = models.CharField(max_length=64, unique=True)
    member = models.ForeignKey(Member, on_delete=models.CASCADE)


class Document(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="documents")
    slug = models.SlugField(max_length=120)
    title = models.CharField(max_length=300)
    body = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        unique_together = [("company", "slug")]


class PaymentMethod(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE)
    holder = models.CharField(max_length=200)
    iban_last4 = models.CharField(max_length=4)
    created_at = models.DateTimeField(auto_now_add=True)
