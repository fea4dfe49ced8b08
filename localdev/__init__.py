"""The local stack (never deployed): Azurite, the Graph emulator and a small host for function_app.app."""
