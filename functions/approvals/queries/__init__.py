"""What people read: the flows they may start, a preview of a request's path, an approval, its
history, their inbox. Nothing here writes."""
