# Organizations as Django data: LogtoOrganization, and LogtoMembership.organization a
# foreign key to it over the same column. The database keeps its column, values and index
# (organization_id, varchar 255, indexed, in the same unique constraint): only Django's
# state changes, so existing memberships stay as they are, whether or not the
# organization is known, and nothing is rewritten.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("logto_auth", "0006_logtoidentity_synced_digest"),
    ]

    operations = [
        migrations.CreateModel(
            name="LogtoOrganization",
            fields=[
                (
                    "id",
                    models.CharField(
                        max_length=255,
                        primary_key=True,
                        serialize=False,
                        verbose_name="Logto organization ID",
                    ),
                ),
                ("name", models.CharField(max_length=255)),
                ("description", models.TextField(blank=True, null=True)),
                (
                    "updated_at",
                    models.DateTimeField(
                        auto_now=True,
                        help_text="When Logto last described it to the site (userinfo or a "
                        "webhook): a sign-in or sync asks userinfo again once this is older "
                        "than the backend's organization_data_max_age.",
                    ),
                ),
                (
                    "last_event_at",
                    models.DateTimeField(
                        blank=True,
                        help_text="When Logto created the last webhook event applied to this "
                        "organization; older events are ignored.",
                        null=True,
                    ),
                ),
                (
                    "last_event_digests",
                    models.JSONField(
                        blank=True,
                        default=list,
                        help_text="SHA-256 of the body of each webhook event created at "
                        "last_event_at and applied to this organization; they are not "
                        "applied again.",
                    ),
                ),
            ],
            options={
                "verbose_name": "Logto organization",
                "verbose_name_plural": "Logto organizations",
                "ordering": ["name", "id"],
            },
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(
                    model_name="logtomembership", name="logto_auth_unique_membership"
                ),
                migrations.RemoveField(model_name="logtomembership", name="organization_id"),
                migrations.AddField(
                    model_name="logtomembership",
                    name="organization",
                    field=models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="memberships",
                        to="logto_auth.logtoorganization",
                        verbose_name="Logto organization",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="logtomembership",
                    constraint=models.UniqueConstraint(
                        fields=("identity", "organization"), name="logto_auth_unique_membership"
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
