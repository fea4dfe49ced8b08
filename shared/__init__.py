"""The product: everything the function app does, importable and testable without the Functions host."""
