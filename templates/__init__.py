"""Jinja2 templates, shipped in the wheel as the package `provisioner.templates`."""
