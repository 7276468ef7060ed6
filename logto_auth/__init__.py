"""Sign in to Django with Logto."""
