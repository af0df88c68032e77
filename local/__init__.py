"""The local stack: template.yaml deployed into moto, Lambda handlers run in-process."""
