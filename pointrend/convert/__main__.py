"""python -m pointrend.convert SOURCE FILE --out DIR (see `pointrend.app.convert`)."""

from pointrend.app.convert import main

if __name__ == "__main__":
    main()
