"""Public reports, their attachments and reporters' follow-ups."""
