"""Development only: embedded servers and the ``make run`` supervisor. No service imports this,
and no service image installs it."""
