"""Search: ranking a store by text or audio, captions people wrote, approximate neighbours, and a folder that stays indexed."""
