"""Deprecated: the access-token decorator and mixin moved. Import from the new modules named
below; this path goes in the next minor release."""

from logto_auth import _moved

__getattr__ = _moved(
    __name__,
    {
        "logto_token_required": "logto_auth.decorators",
        "LogtoTokenRequiredMixin": "logto_auth.mixins",
    },
)
