from django.db import migrations, models


class Migration(migrations.Migration):
    """`next_poll_at` also held the submit lease, the submit retry time and the copy retry
    time: the column is renamed to `due_at`, which names all of them (see the model). The
    index on it is rebuilt under a matching name (RenameField leaves an Index's fields as
    they were in the migration state)."""

    dependencies = [
        ("generations", "0008_new_video_kinds"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="generation", name="generation_poll_queue"),
        migrations.RenameField(model_name="generation", old_name="next_poll_at", new_name="due_at"),
        migrations.AddIndex(
            model_name="generation",
            index=models.Index(fields=["status", "due_at"], name="generation_due_queue"),
        ),
    ]
