"""The read side: time ranges, calendar buckets, the /tock query and its result shape."""
