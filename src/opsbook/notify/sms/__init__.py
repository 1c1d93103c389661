"""The sms channel: text messages through Twilio-style HTTP gateways, with failover."""
