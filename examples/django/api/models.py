from django.db import models

from authentication.models import Company


class Document(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="documents")
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True, default="")
    owner_email = models.EmailField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.title


class SearchLog(models.Model):
    company = models.ForeignKey(Company, null=True, on_delete=models.SET_NULL)
    query = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
