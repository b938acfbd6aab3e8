"""`cnnc graph`: a picture of a checked network (dot.py writes Graphviz DOT, render.py lays it out)."""
