from django.contrib import admin

from subjects.models import Subject, SubjectImage


class SubjectImageInline(admin.TabularInline):
    model = SubjectImage
    extra = 0
    readonly_fields = ("position", "file", "content_type")
    can_delete = False


@admin.register(Subject)
class SubjectAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "kind", "status", "element_id", "created_at", "deleted_at")
    list_filter = ("status", "kind")
    search_fields = ("name", "owner__email", "element_id", "task_id")
    readonly_fields = ("owner", "task_id", "element_id", "error", "created_at", "deleted_at")
    inlines = [SubjectImageInline]
