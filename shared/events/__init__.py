"""Events: what an audited change tells subscribers, signed webhooks, chat messages and Pub/Sub."""
