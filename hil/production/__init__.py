"""The production side: a line of sockets, the operator station (`hil eol`), tickets and labels."""
