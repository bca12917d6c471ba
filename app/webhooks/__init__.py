"""Webhooks per Standard Webhooks: subscriptions, fan-out and signed delivery."""
