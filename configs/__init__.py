# Makes configs/ a regular package so that gin resolves `include 'configs/<name>.gin'` from any
# working directory (gin-config 0.5's resource reader crashes on namespace packages).
