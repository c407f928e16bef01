"""Domain code shared by the Lambda handlers, the command line and the tests: pure Python, no AWS calls."""
