"""Running a stack's work on this machine: workspace, environment, process, masking, vendors."""
