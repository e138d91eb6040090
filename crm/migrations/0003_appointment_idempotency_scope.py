"""Idempotency keys are scoped to the customer and to live appointments: a replay never returns another
customer's booking, and a cancelled booking no longer blocks booking the same request again."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("crm", "0002_booking_sync_and_idempotency"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="appointment",
            name="crm_appt_idempotency_key_unique",
        ),
        migrations.AlterField(
            model_name="appointment",
            name="idempotency_key",
            field=models.CharField(
                blank=True, max_length=128,
                help_text="Same booking request replayed (model retry, reconnect) → the customer's same live row."),
        ),
        migrations.AddConstraint(
            model_name="appointment",
            constraint=models.UniqueConstraint(
                condition=models.Q(("idempotency_key", ""), _negated=True)
                & models.Q(("status", "cancelled"), _negated=True),
                fields=("customer", "idempotency_key"),
                name="crm_appt_idempotency_key_live_unique",
            ),
        ),
    ]
