"""The "advisor" group: what a service advisor needs in admin, and nothing more.

View, add and change customers, vehicles and appointments; view call logs and reminder attempts (records,
never edited). Nothing on users, groups, the task queue or login-attempt tables. The list is frozen here
(a data migration must not follow later code); crm/tests/test_permissions.py pins it.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "advisor"
PERMISSIONS = [
    ("crm", "view_customer"), ("crm", "add_customer"), ("crm", "change_customer"),
    ("crm", "view_vehicle"), ("crm", "add_vehicle"), ("crm", "change_vehicle"),
    ("crm", "view_appointment"), ("crm", "add_appointment"), ("crm", "change_appointment"),
    ("crm", "view_calllog"),
    ("reminders", "view_reminderattempt"),
]


def create_advisor_group(apps, schema_editor):
    # On a fresh database permissions are only made after the last migration (post_migrate): make them now.
    for app_label in ("crm", "reminders"):
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(schema_editor.connection.alias).get_or_create(name=GROUP)
    wanted = [Permission.objects.using(schema_editor.connection.alias).get(
        content_type__app_label=app_label, codename=codename) for app_label, codename in PERMISSIONS]
    group.permissions.set(wanted)


def delete_advisor_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.using(schema_editor.connection.alias).filter(name=GROUP).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("crm", "0003_appointment_idempotency_scope"),
        ("reminders", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_advisor_group, delete_advisor_group),
    ]
