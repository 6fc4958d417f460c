"""The notifier: per-user inboxes (``rpc.notify.*``) and their changes on NOTIFICATIONS."""
