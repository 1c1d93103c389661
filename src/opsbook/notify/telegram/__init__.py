"""The telegram channel: notifications sent to a chat with the Bot API's ``sendMessage``."""
