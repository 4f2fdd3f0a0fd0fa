from django import template

from economics import alerts

register = template.Library()


@register.inclusion_tag("admin/economics/_alerts.html", takes_context=True)
def economics_alerts(context) -> dict:
    """Open alerts, as a banner on every admin page, for staff who may see the dashboard."""
    user = getattr(context.get("request"), "user", None)
    if user is None or not user.is_authenticated or not user.has_perm("economics.view_dashboard"):
        return {"alerts": []}
    return {"alerts": alerts.open_alerts()}
