"""A browser page that records what a test must not see: console errors and requests leaving the site."""


def watched_page(browser, base_url: str, **options):
    """(context, page, problems): ``problems`` collects console errors and requests leaving ``base_url``."""
    context = browser.new_context(base_url=base_url, **options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("request", lambda request: problems.append(f"outside request: {request.url}")
            if not request.url.startswith(base_url) else None)
    return context, page, problems
