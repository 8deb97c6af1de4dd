"""Each worker job's last run, kept in the database (not Redis) so monitoring survives a Redis
restart and sees runs made by hand (`bankfeeds jobs run`) as well as the worker's."""
