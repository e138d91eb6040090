"""Keep the per-phone customer cache honest when advisors edit a customer in admin."""

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from crm.models import Customer
from crm.selectors import customer_cache_forget


@receiver([post_save, post_delete], sender=Customer)
def forget_cached_customer(sender: type, instance: Customer, **kwargs: Any) -> None:
    customer_cache_forget(instance.phone)
