"""This family's wire protocol: codes, layouts and codecs shared by client and twin."""
