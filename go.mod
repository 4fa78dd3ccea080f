module github.com/hibiki-sfu/hibiki

go 1.26.8
