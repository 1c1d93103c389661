"""The voice channel: phone calls that read the alert out, through Twilio-style gateways."""
