"""python -m pointrend.convert SOURCE FILE --out DIR (see `pointrend.app.convert`)."""

from pointrend.utils.paddle_notices import ignore_ccache_notice

if __name__ == "__main__":
    ignore_ccache_notice()
    from pointrend.app.convert import main

    main()
