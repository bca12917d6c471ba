"""Operating the service: health, readiness and metrics; migrations; key rotation."""
