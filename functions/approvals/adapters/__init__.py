"""AWS glue: small boto3 adapters with lazily created, injectable clients."""
