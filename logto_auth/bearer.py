"""Deprecated: the bearer-token policy is internal now. Import from the new modules named
below; this path goes in the next minor release."""

from logto_auth import _moved

__getattr__ = _moved(
    __name__,
    {
        "authorize": "logto_auth._bearer",
    },
)
