"""The team deployment: the compose image (`aar deploy build`) and the study queue's worker (`aar worker`)."""
