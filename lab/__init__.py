"""Stack config → typed, validated settings. The only place that knows our config files."""
