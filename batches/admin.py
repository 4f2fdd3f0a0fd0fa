from django.contrib import admin

from batches.models import Batch, BatchItem


class BatchItemInline(admin.TabularInline):
    model = BatchItem
    extra = 0
    fields = ("row", "prompt", "generation")
    readonly_fields = fields
    can_delete = False


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ("pk", "owner", "kind", "total_cost", "created_at")
    list_filter = ("kind",)
    search_fields = ("owner__email",)
    readonly_fields = ("owner", "kind", "options", "total_cost", "client_token", "created_at")
    inlines = [BatchItemInline]
