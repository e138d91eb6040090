"""Callback requests (messages the agent takes when it cannot help or transfer), the "callback" call outcome,
and the advisor group's view and change permissions on callback requests (frozen here, like 0004's list;
crm/tests/test_permissions.py pins the whole set)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


GROUP = "advisor"
PERMISSIONS = [("crm", "view_callbackrequest"), ("crm", "change_callbackrequest")]


def grant_advisor(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    db = schema_editor.connection.alias
    app_config = apps.get_app_config("crm")
    app_config.models_module = True  # permissions are otherwise made only after the last migration
    create_permissions(app_config, apps=apps, verbosity=0, using=db)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(db).get_or_create(name=GROUP)
    group.permissions.add(*[Permission.objects.using(db).get(content_type__app_label=app_label, codename=codename)
                            for app_label, codename in PERMISSIONS])


def revoke_advisor(apps, schema_editor):
    db = schema_editor.connection.alias
    Permission = apps.get_model("auth", "Permission")
    group = apps.get_model("auth", "Group").objects.using(db).filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(*Permission.objects.using(db).filter(
            content_type__app_label="crm", codename__in=[codename for _, codename in PERMISSIONS]))


class Migration(migrations.Migration):

    dependencies = [
        ("crm", "0005_calllog_protocol_errors"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='CallbackRequest',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('phone', models.CharField(blank=True, help_text="The number to call back (the caller's own).", max_length=32)),
                ('call_sid', models.CharField(blank=True, max_length=64)),
                ('message', models.TextField(help_text='What the caller wanted, in their words.')),
                ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('done_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.RemoveConstraint(
            model_name='calllog',
            name='crm_call_outcome_known',
        ),
        migrations.AlterField(
            model_name='calllog',
            name='outcome',
            field=models.CharField(choices=[('in_progress', 'In progress'), ('booked', 'Booked'), ('rescheduled', 'Rescheduled'), ('cancelled', 'Cancelled'), ('confirmed', 'Confirmed'), ('information', 'Information only'), ('transferred', 'Transferred to staff'), ('callback', 'Callback requested'), ('voicemail', 'Left voicemail'), ('abandoned', 'Caller hung up'), ('failed', 'Failed')], default='in_progress', max_length=16),
        ),
        migrations.AddConstraint(
            model_name='calllog',
            constraint=models.CheckConstraint(condition=models.Q(('outcome__in', ['in_progress', 'booked', 'rescheduled', 'cancelled', 'confirmed', 'information', 'transferred', 'callback', 'voicemail', 'abandoned', 'failed'])), name='crm_call_outcome_known'),
        ),
        migrations.AddField(
            model_name='callbackrequest',
            name='call',
            field=models.ForeignKey(blank=True, help_text='The call the message was taken on.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='callback_requests', to='crm.calllog'),
        ),
        migrations.AddField(
            model_name='callbackrequest',
            name='customer',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='callback_requests', to='crm.customer'),
        ),
        migrations.AddField(
            model_name='callbackrequest',
            name='done_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddIndex(
            model_name='callbackrequest',
            index=models.Index(fields=['done_at', 'created_at'], name='crm_callback_open_idx'),
        ),
        migrations.AddConstraint(
            model_name='callbackrequest',
            constraint=models.CheckConstraint(condition=models.Q(('done_by__isnull', True), ('done_at__isnull', False), _connector='OR'), name='crm_callback_done_by_needs_done_at'),
        ),
        migrations.RunPython(grant_advisor, revoke_advisor),
    ]
