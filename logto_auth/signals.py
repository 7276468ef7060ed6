from __future__ import annotations

from django.dispatch import Signal

#: Sent after a user was brought in line with Logto (sign-in, token refresh, webhook),
#: with ``user``, ``claims`` and ``created``. Sender: the backend class.
logto_user_synced = Signal()
