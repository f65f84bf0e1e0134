"""Drop the single-column foreign-key indexes that composite indexes already serve.

Only the indexes go: Django's own AlterField would also drop and re-add (re-validate) each
foreign-key constraint, a full scan under an exclusive lock on a large annotation table.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('labeling', '0005_campaign_active_learning'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    state_operations = [
        migrations.AlterField(
            model_name='annotation',
            name='annotator',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='annotations', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='annotation',
            name='item',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='annotations', to='labeling.campaignitem'),
        ),
        migrations.AlterField(
            model_name='campaignitem',
            name='campaign',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='items', to='labeling.campaign'),
        ),
        migrations.AlterField(
            model_name='lease',
            name='annotator',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='leases', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='lease',
            name='item',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='leases', to='labeling.campaignitem'),
        ),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=state_operations,
            database_operations=[
                migrations.RunSQL(f"DROP INDEX IF EXISTS {table}_{column}_{suffix}",
                                  reverse_sql=f"CREATE INDEX IF NOT EXISTS {table}_{column}_{suffix} ON {table} ({column})")
                for table, column, suffix in (
                    ("labeling_annotation", "annotator_id", "27105154"),
                    ("labeling_annotation", "item_id", "b8a53f88"),
                    ("labeling_campaignitem", "campaign_id", "083ca0e9"),
                    ("labeling_lease", "annotator_id", "e107b609"),
                    ("labeling_lease", "item_id", "a92b5d42"),
                )
            ],
        ),
    ]
