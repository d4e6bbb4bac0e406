"""Inbound webhooks: deliveries pushed to Metronome by other services (GitHub), stored durably
in the spool like every hit, and indexed by the shipper with deterministic ids."""
