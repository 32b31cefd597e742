from django import forms

from .models import Customer


class CustomerForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = ["email", "name", "status"]


class SearchForm(forms.Form):
    SCOPES = [("all", "All"), ("documents", "Documents"), ("people", "People")]
    q = forms.CharField(max_length=10)
    scope = forms.ChoiceField(choices=SCOPES)
    page = forms.IntegerField(min_value=1)
