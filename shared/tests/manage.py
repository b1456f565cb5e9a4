#!/usr/bin/env python
from service_kit.entrypoints import manage

if __name__ == "__main__":
    manage("kitproject.settings")
