"""A demo partner that integrates facematch's Web SDK through the public partner API only."""
