"""Deprecated: the role decorator and mixin moved. Import from the new modules named below;
this path goes in the next minor release."""

from logto_auth import _moved

__getattr__ = _moved(
    __name__,
    {
        "logto_role_required": "logto_auth.decorators",
        "LogtoRoleRequiredMixin": "logto_auth.mixins",
    },
)
