"""The `podium` command: one module per noun, registered in main.COMMAND_GROUPS."""
