module github.com/kdap/kdap

go 1.26
