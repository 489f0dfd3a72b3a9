module gocxxpeers

go 1.19
